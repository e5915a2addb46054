#!/usr/bin/env bash
# Python grpcio (a C-core gRPC client) for the test that error statuses reach such clients
# with their real code (test/security/bad-text.test.ts). Reuses an existing install.
set -euo pipefail
python3 -c 'import grpc' 2>/dev/null || python3 -m pip install --quiet --user grpcio
