"""Random testing: testing groups, the daily draw and calls for cause (api.py)."""
