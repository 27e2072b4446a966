"""A live server, a browser, worker processes, crashes and load: the slow ones."""
