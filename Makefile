# Shortcuts for the two quick-start commands (see README.md).
.PHONY: test bench
test:
	bash scripts/quickstart.sh test
bench:
	bash scripts/quickstart.sh bench
