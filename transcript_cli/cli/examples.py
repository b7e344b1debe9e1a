"""Examples shown at the end of --help (`\b` keeps Click from re-wrapping them)."""

from __future__ import annotations

ROOT_EXAMPLES = """\b
Examples:
  transcript-cli run podcast.vtt                 # clean one file with Claude
  transcript-cli status                          # every job: state, progress, cost
  transcript-cli resume                          # continue the only unfinished job
  cat talk.srt | transcript-cli run - --out - > talk.md
  transcript-cli config                          # the defaults in effect, and from where

Each command has its own --help with examples."""

RUN_EXAMPLES = """\b
Examples:
  transcript-cli run podcast.vtt
  transcript-cli run lectures/ --out notes --prompt summary-notes --language English
  transcript-cli run talk.srt --model claude-haiku-4-5 --chunk-chars 4000 -j 8
  cat talk.srt | transcript-cli run - --out - > talk.md
  transcript-cli run talk.srt --json --quiet | jq .state

Defaults come from transcript-cli.toml (see `transcript-cli config`)."""

ESTIMATE_EXAMPLES = """\b
Examples:
  transcript-cli estimate lectures/
  transcript-cli estimate talk.srt --model claude-haiku-4-5 --exact
  transcript-cli run lectures/ --dry-run --json | jq .total.cost_usd"""

RESUME_EXAMPLES = """\b
Examples:
  transcript-cli resume
  transcript-cli resume podcast-1a2b3c4d --concurrency 2
  transcript-cli resume podcast-1a2b3c4d --retry-failed"""

STATUS_EXAMPLES = """\b
Examples:
  transcript-cli status
  transcript-cli status podcast-1a2b3c4d
  transcript-cli status --json | jq '.jobs[] | {job_id, state}'"""

CLEAR_EXAMPLES = """\b
Examples:
  transcript-cli clear podcast-1a2b3c4d
  transcript-cli clear --completed --yes"""

CONFIG_EXAMPLES = """\b
Examples:
  transcript-cli config
  transcript-cli config --json | jq .settings.model
  TRANSCRIPT_CLI_MODEL=claude-haiku-4-5 transcript-cli config"""
