# Convenience targets; the README's two commands are scripts/scan and scripts/test.
.PHONY: scan test bench lint
scan:
	scripts/scan $(ARGS)
test:
	scripts/test
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy
bench:
	scripts/bench
