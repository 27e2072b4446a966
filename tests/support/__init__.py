"""What the tests share besides fixtures, one module per kind of thing: the command
line (cli), the databases (databases), the app in-process (app), a live server (live),
a browser (browser), staff and the demo (staff, demo), lab files (lab_files), the
route table (routes), the OpenAPI check (openapi), large caseloads (caseload_seed) and
the worker pool's jobs (worker_jobs). Fixtures and hooks stay in the conftest files,
which import from here; no test imports from a conftest or from another test module."""
