#!/usr/bin/env bash
# QA script: an English-speaking customer asks for a card balance on 95555.
exec "$(dirname "$0")/../../.venv/bin/agi-app" qa call --from 13800000007 --to 95555 \
  --keys "wait 1; 2; wait 2; 1; wait 3; 0007#; wait 7; 9" --cause 16 --expect-outcome completed \
  --expect "choose_language_zh > choose_language[2] > set_en > main[1] > card_for_balance[0007] > do_balance > say_balance > after[9] > bye"
