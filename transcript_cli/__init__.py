"""transcript-cli: clean long transcripts with Claude, chunk by chunk, as a resumable job."""

from transcript_cli.errors import TranscriptCliError

__version__ = "0.1.0"

__all__ = ["TranscriptCliError", "__version__"]
