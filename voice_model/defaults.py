"""Conversion defaults shared by the CLI, the service's job API and the renderer. No torch
here: the API process imports this without loading the model code."""

# How far a conversion leans on the creator's own retrieved frames (0 = decoder only, 1 =
# retrieved frames only). bench/voice.py scored 0.25, 0.35 and 0.5 on the same models:
# 0.35 keeps the speaker-similarity gain above +0.15 (+0.159; 0.5 gave +0.165) and adds far
# fewer recognition errors (WER +0.04 over the source with Whisper, +0.10 at 0.5).
DEFAULT_INDEX_RATE = 0.35
# How much of the source's unvoiced consonants and breaths is kept (0 = convert them fully).
DEFAULT_PROTECT = 0.33
