"""The project's code location, with runs executed in one process (test deployments only).

``etl_assets.definitions`` as it is, plus ``in_process_executor`` as the default executor: a run
of the daemon tests then costs one Python process instead of one per step (a 2-core CI). The
production command (``-m etl_assets.definitions``, multiprocess) is exercised by the PostgreSQL
deployment test.
"""

from dagster import Definitions, in_process_executor

from etl_assets import definitions as project  # a module, so only ``defs`` below is discovered

defs = Definitions.merge(project.defs, Definitions(executor=in_process_executor))
