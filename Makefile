# The README's two quick-start commands. Both set the project up first (scripts/setup.sh).
.PHONY: setup demo test

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/curate demo --output out

test:
	bash scripts/test.sh
