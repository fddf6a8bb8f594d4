#!/bin/sh
# The README's first command ends with scripts/demo: it must start the demo
# service, forward a port to it and show a request going through.
set -e
PORTIER=${PORTIER:?} exec "${PORTIER_SRCDIR:?}/scripts/demo" --once
