#!/bin/sh
# One-time set-up of the compose.yaml demo federation (the `init` service): keys, roster, analyst
# roster, the consortium CA and TLS certificates, a party policy, and the example data split into
# three hospitals. Idempotent: does nothing once roster.json exists. Every `blindsum` command here
# is checked against the CLI, and the script is run, by test/deploy-files.test.ts.
# The directories can be moved for that test; in the container they are the image's volumes.
set -eu
CONFIG="${BLINDSUM_CONFIG_DIR:-/etc/blindsum}"
DATA="${BLINDSUM_DATA_DIR:-/srv/blindsum/data}"
APP="${BLINDSUM_APP_DIR:-/app}"

if [ -f "$CONFIG/roster.json" ]; then
  echo "blindsum init: $CONFIG is already set up; nothing to do"
  exit 0
fi
umask 077
cd "$CONFIG"
cp "$APP/examples/pbc/schema.json" schema.json

# Identities: three hospitals, the operator (signs analysts.json) and the aggregator (signs transcripts).
blindsum keygen --id hospital-a --out hospital-a.key
blindsum keygen --id hospital-b --out hospital-b.key
blindsum keygen --id hospital-c --out hospital-c.key
blindsum keygen --id operator --out operator.key
blindsum keygen --id demo-aggregator --out aggregator.key
blindsum roster --federation demo --operator operator.key.pub.json --aggregator aggregator.key.pub.json --out roster.json hospital-a.key.pub.json hospital-b.key.pub.json hospital-c.key.pub.json

# An analyst (budget rho = 1) and an auditor, in the operator-signed analyst roster.
blindsum analyst keygen --id alice --out alice.key
blindsum analyst keygen --id auditor --out auditor.key
blindsum analyst roster --operator-key operator.key --federation demo --roster roster.json --out analysts.json alice.key.pub.json:analyst:1 auditor.key.pub.json:auditor

# Mutual TLS: the aggregator's certificate for its compose host name (and localhost, for its own
# health check), and a client certificate for each hospital, the analyst, the auditor and the probe.
blindsum certs --dir certs --server aggregator --host aggregator --host localhost --client hospital-a --client hospital-b --client hospital-c --client alice --client auditor --client probe

# The parties' policy: secure aggregation, differentially private answers only.
printf '%s\n' '{"allowedBackends": ["secagg"], "minCohort": 10, "allowExact": false, "budgetRho": 1, "maxRhoPerQuery": 0.25}' > policy.json

# The example data (418 patients), dealt row by row to the three hospitals, each with the header.
awk -v dir="$DATA" 'NR == 1 { header = $0; split("a b c", h, " "); for (i = 1; i <= 3; i++) print header > (dir "/hospital-" h[i] ".csv"); next }
  { print > (dir "/hospital-" h[(NR - 2) % 3 + 1] ".csv") }' "$APP/examples/pbc/pbc.csv"

echo "blindsum init: set up $CONFIG (keys, roster.json, analysts.json, certs/) and $DATA (hospital-a.csv, hospital-b.csv, hospital-c.csv)"
