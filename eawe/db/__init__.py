"""The relational data layer: models, migrations, repositories (SQLAlchemy 2 async on psycopg 3)."""
