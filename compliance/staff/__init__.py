"""Staff accounts, programs' administration, and access: who may see what (a user
reaches only the records of their own programs; a service authorizes once)."""
