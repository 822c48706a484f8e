# rps: the two commands are `make up` and `make test`; everything else is a building block.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
ROOT := $(CURDIR)
export PATH := $(ROOT)/.rps/tools/bin:$(ROOT)/bin:$(PATH)

.PHONY: up down test install lint typecheck unit bench clean help

help:
	@echo "make up    - install what is missing, run the pipeline on the offline replay source"
	@echo "make test  - install what is missing, run lint, type check and every test"
	@echo "make down  - stop everything make up started"

install:
	@scripts/install-node-deps.sh

up: install
	@scripts/up.sh

down:
	@scripts/down.sh

lint: install
	npx eslint .

typecheck: install
	npx tsc --noEmit -p .

unit: install
	npx mocha

test: install
	@scripts/test.sh

bench: install
	npm run -s bench

clean:
	rm -rf dist .rps/npm-ci.stamp
