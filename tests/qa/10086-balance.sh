#!/usr/bin/env bash
# QA script: a standard customer checks the balance on 10086 and hangs up with 9.
exec "$(dirname "$0")/../../.venv/bin/agi-app" qa call --from 13800000005 --to 10086 \
  --keys "wait 6; 1; wait 6; 9" --cause 16 --expect-outcome completed \
  --expect "entry > welcome > main[1] > balance > say_balance > after_service[9] > bye"
