"""The VoxScriber reference server: the contract served by Connexion, transcription by faster-whisper."""
