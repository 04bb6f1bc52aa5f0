"""Builders shared by the unit and integration tiers.

Test directories are not packages and pytest imports test modules by basename, so what
both tiers need lives here and is imported as ``tests.support.<module>`` (the repository
root is on ``sys.path`` through the pytest ``pythonpath`` setting).
"""
