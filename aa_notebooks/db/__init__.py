"""The database layer: the data contract's tables as models, engines, migrations, bulk writes.

Everything else reaches the database through here; nothing in this package imports a higher
layer.
"""
