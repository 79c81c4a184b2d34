"""What a worker runs on a job's media: the Whisper engine, then (when asked) speaker diarization.

The API process uses the same object to refuse, at ``POST /v1/transcribe``, what the workers could not do:
a language the model lacks (422 ``language_not_supported``) and diarization without the extra installed
(422 ``diarization_unavailable``). Nothing is loaded until a job runs.
"""

from __future__ import annotations

import dataclasses
import logging

from reference_impl.diarization import DIARIZATION_HINT, SpeakerDiarizer, diarization_available
from reference_impl.engine import Progress, WhisperTranscriber
from reference_impl.settings import ReferenceSettings
from voxcontract.errors import DiarizationUnavailable
from voxcontract.media import MediaSource
from voxcontract.transcription import Transcript, TranscriptionOptions

__all__ = ["TranscriptionPipeline", "build_pipeline"]

logger = logging.getLogger(__name__)

#: The part of a job's progress that transcription accounts for when speakers are labelled after it.
_TRANSCRIPTION_SHARE = 0.9


class TranscriptionPipeline:
    """:class:`voxcontract.transcription.Transcriber` for jobs: transcription, then diarization when asked."""

    def __init__(self, transcriber: WhisperTranscriber, diarizer: SpeakerDiarizer | None) -> None:
        self.transcriber = transcriber
        self.diarizer = diarizer

    def check(self, options: TranscriptionOptions) -> None:
        """Refuse (422) what this deployment cannot do."""
        self.transcriber.check_language(options.language)
        if options.diarization and self.diarizer is None:
            raise DiarizationUnavailable(f"Speaker diarization is not enabled on this deployment: {DIARIZATION_HINT}")

    def transcribe(
        self, media: MediaSource, options: TranscriptionOptions, progress: Progress | None = None
    ) -> Transcript:
        """Transcribe, then label speakers when asked; ``progress`` gets the fraction done, and is the stop check of
        both steps (whatever it raises ends the work: see :mod:`reference_impl.engine`)."""
        self.check(options)
        share = _TRANSCRIPTION_SHARE if options.diarization else 1.0

        def transcribing(done: float) -> None:
            if progress is not None:
                progress(done * share)

        def diarizing(done: float) -> None:
            if progress is not None:
                progress(share + done * (1 - share))

        transcript = self.transcriber.transcribe(media, options, transcribing)
        if options.diarization and self.diarizer is not None:
            transcript = self.diarizer.label(media, transcript, options.speakers_expected, diarizing)
        elif any(segment.speaker for segment in transcript.segments):
            transcript = dataclasses.replace(
                transcript, segments=tuple(dataclasses.replace(s, speaker=None) for s in transcript.segments)
            )
        return transcript


def build_pipeline(settings: ReferenceSettings) -> TranscriptionPipeline:
    """The pipeline the settings describe (the model is resolved, assembled if needed, but not loaded)."""
    transcriber = WhisperTranscriber(
        settings.model,
        data_dir=settings.data_path,
        device=settings.device,
        compute_type=settings.compute_type,
        cpu_threads=settings.cpu_threads,
        num_workers=settings.workers,
        beam_size=settings.beam_size,
        vad_filter=settings.vad_filter,
        max_media_seconds=settings.max_media_seconds,
    )
    diarizer = SpeakerDiarizer() if diarization_available() else None
    logger.info(
        "engine: %s on %s (%s), diarization %s",
        transcriber.model_path,
        transcriber.device,
        transcriber.compute_type,
        "on" if diarizer else "off",
    )
    return TranscriptionPipeline(transcriber, diarizer)
