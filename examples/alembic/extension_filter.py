"""Keep Alembic's autogenerate away from tables that belong to extensions.

``CREATE EXTENSION textbook`` creates the tables of schema ``textbook``;
the extension owns them and changes them only through ``ALTER EXTENSION
textbook UPDATE``.  Without a filter, autogenerate treats them like any
other table:

* with ``include_schemas=True`` it reflects schema ``textbook`` and, for
  every table the application's metadata does not declare, proposes
  ``op.drop_table('users', schema='textbook')`` and so on;
* if the application maps the tables (examples/sqlalchemy/textbook_models.py)
  and autogenerate does not reflect that schema, or runs before the
  extension exists, it proposes ``op.create_table`` for them, which would
  then collide with CREATE EXTENSION.

Why ask the catalog rather than skip "schema == 'textbook'": PostgreSQL
records every object an extension creates in ``pg_depend`` with
``deptype = 'e'`` (the same record that makes ``DROP EXTENSION`` drop it and
pg_dump leave it out).  That is the definition of "belongs to the
extension", so the filter

* catches every extension's tables, wherever they are (PostGIS puts
  ``spatial_ref_sys`` in ``public``), and tables a later version of textbook
  adds that the models do not know about yet;
* does not hide a table the application itself created in a schema that
  happens to share a name with an extension.

Tables the metadata marks with ``info={"extension": ...}`` are skipped as
well, for the case where the extension is not (yet) installed in the
database being compared.
"""

from sqlalchemy import text

EXTENSION_RELATIONS = text("""
    SELECT n.nspname, c.relname
      FROM pg_catalog.pg_depend d
      JOIN pg_catalog.pg_class c ON c.oid = d.objid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
       AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
       AND d.deptype = 'e'
""")


class ExtensionFilter:
    """include_name / include_object hooks for EnvironmentContext.configure().

    Built from the migration's connection.  The set of relations that
    belong to an extension is read on first use, i.e. when autogenerate
    compares, inside Alembic's transaction: a query run on the connection
    before context.begin_transaction() would start a transaction that
    Alembic then takes for the caller's and never commits (SQLAlchemy 1.4
    future connections begin implicitly), so `alembic upgrade` would
    silently roll back.
    """

    def __init__(self, connection):
        self.connection = connection
        self.default_schema = connection.dialect.default_schema_name
        self._members = None

    @property
    def members(self):
        if self._members is None:
            self._members = {(schema, name) for schema, name
                             in self.connection.execute(EXTENSION_RELATIONS)}
        return self._members

    def owned_by_extension(self, schema, name):
        return (schema or self.default_schema, name) in self.members

    def include_name(self, name, type_, parent_names):
        """Database side: do not even reflect an extension's tables."""
        if type_ == "table":
            return not self.owned_by_extension(parent_names.get("schema_name"), name)
        return True

    def include_object(self, obj, name, type_, reflected, compare_to):
        """Both sides: skip extension tables, reflected or declared.

        Columns, indexes and constraints of a skipped table are never
        compared, so only tables need a decision.  Foreign keys of the
        application's tables that point at textbook.users are compared as
        usual.
        """
        if type_ == "table":
            if obj.info.get("extension"):
                return False
            return not self.owned_by_extension(obj.schema, name)
        return True

    def configure_kwargs(self):
        return {"include_name": self.include_name,
                "include_object": self.include_object}
