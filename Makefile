# The same checks CI runs (.ci/run -> scripts/test.sh), in pieces.
.PHONY: run test lint unit torture bench

run:
	bash scripts/serve.sh

test:
	bash scripts/test.sh

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/lint-imports

unit:
	.venv/bin/pytest -q -p no:cacheprovider -m "not integration"

torture:
	bash scripts/torture.sh

bench:
	.venv/bin/python bench/bench_proxy.py
