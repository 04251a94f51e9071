"""PostgreSQL tests: one real server per pytest process (see ``etl_assets_tests/servers``).

Every test module here also sets ``pytestmark = pytest.mark.xdist_group("postgres")`` so that
``--dist loadgroup`` can keep them on one worker. The fixtures do not rely on it: with pytest 9.2
and pytest-xdist 3.8 as pinned, grouped tests were seen on both workers, and each worker then
simply starts its own server (about 1 s) and every test uses its own database.
"""

from etl_assets_tests.servers.fixtures import pg, postgres_db, postgres_server

__all__ = ["pg", "postgres_db", "postgres_server"]
