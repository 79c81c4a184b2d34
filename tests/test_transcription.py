from __future__ import annotations

from voxcontract.transcription import JobOptions, Retention, TranscriptionOptions


def test_a_request_body_becomes_job_options_with_the_contracts_defaults() -> None:
    options = JobOptions.from_document({"file_id": "file_1", "language": "de", "retention": {"ttl_seconds": 60}})
    assert options == JobOptions(language="de", retention=Retention(ttl_seconds=60))


def test_the_stored_form_reads_back_to_the_same_options() -> None:
    options = JobOptions("fr", "word", True, 2, "https://hooks.test/h", Retention(True, 3600))
    assert JobOptions.from_document(options.to_document()) == options


def test_the_engine_gets_its_part_and_a_detected_language_replaces_auto() -> None:
    options = JobOptions(timestamps="word", diarization=True, speakers_expected=2)
    assert options.transcription() == TranscriptionOptions("auto", "word", True, 2)
    assert options.transcription(language="es").language == "es"
