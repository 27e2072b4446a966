"""Random drug testing: testing groups, the daily draw (odds.py: who is called, pure;
draws.py: the draw stored once per program and day) and calls for cause."""
