"""All of qm's settings in one place.

Every setting can come from the environment (``QM_`` prefix) or a ``.env`` file,
and every one has a default that works offline on a fresh machine: SQLite in the
per-user data directory, bundled Whisper tiny.en, bundled MiniLM encoder.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from platformdirs import user_data_dir
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from qm.types import PII_TYPES

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_data_dir() -> Path:
    return Path(user_data_dir("qm", appauthor=False))


class Settings(BaseSettings):
    """qm settings; the field descriptions are the documentation (see docs/operations.md)."""

    model_config = SettingsConfigDict(env_prefix="QM_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Where qm keeps its SQLite database, redacted audio and caches.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Default: sqlite:///<data_dir>/qm.db. "
        "Production: postgresql+psycopg://user:pass@host/db.",
    )
    asr_model: str = Field(
        default="tiny.en",
        description="Whisper model: 'tiny.en' (bundled), 'base' (bundled), a local CTranslate2 directory, "
        "or a hub name such as 'small.en' (only with allow_download).",
    )
    asr_compute_type: str = Field(default="int8", description="CTranslate2 compute type on CPU.")
    asr_threads: int = Field(default=0, description="CPU threads for Whisper; 0 = all cores.")
    asr_beam_size: int = Field(default=1, description="Beam size; 1 (greedy) is ~2x faster than 5.")
    language: str = Field(default="en", description="Spoken language of the calls (fixed, not detected).")
    allow_download: bool = Field(
        default=False, description="Allow fetching models from a hub. Off: qm never touches the network."
    )
    encoder_path: Path | None = Field(
        default=None, description="Sentence encoder directory; default: the bundled all-MiniLM-L6-v2."
    )
    encoder_adapter: Path | None = Field(
        default=PROJECT_ROOT / "models" / "encoder",
        description="LoRA adapter directory merged into the encoder (the heads are trained on it); "
        "empty to run the plain encoder with heads trained for it.",
    )
    encoder_int8: bool = Field(
        default=False, description="Run the encoder with dynamic int8 weights (~1.4x faster on CPU). Off by "
        "default: dynamic int8 scales activations per batch, so an utterance's embedding (and label) would "
        "depend on which other utterances share its batch. The heads are trained for one setting and refuse "
        "the other.",
    )
    encoder_runtime: Literal["onnx", "torch"] = Field(
        default="onnx", description="'onnx': export the merged encoder once (cached in the user cache dir) and "
        "run it with onnxruntime (~2x faster than torch on CPU); 'torch': run it in PyTorch. Heads are "
        "trained for one runtime and refuse the other.",
    )
    heads_dir: Path = Field(
        default=PROJECT_ROOT / "models" / "heads",
        description="Directory holding the trained classifier heads.",
    )
    nlp_threads: int = Field(default=0, description="Torch threads for the encoder; 0 = all cores.")
    rubrics_dir: Path = Field(default=PROJECT_ROOT / "rubrics", description="Where named rubrics live.")
    default_rubric: str = Field(default="default", description="Rubric used when none is named.")
    agent_channel: Literal["left", "right"] = Field(
        default="left", description="Which stereo channel carries the agent."
    )
    max_duration_s: float = Field(
        default=4 * 3600.0, description="Calls longer than this are refused with a clear message."
    )
    redact_types: Annotated[tuple[str, ...], NoDecode] = Field(
        default=PII_TYPES,
        description="PII types redacted from stored text, logs and the served audio, comma-separated "
        f"({', '.join(PII_TYPES)}) or 'all'. A type left out is still detected (so it is never mistaken "
        "for another) but kept. A recording scored again with other types is transcribed and redacted again.",
    )
    redact_audio: bool = Field(
        default=True, description="Write a redacted copy of the audio (tone over PII) to data_dir/audio."
    )

    @field_validator("encoder_adapter", mode="before")
    @classmethod
    def _no_adapter(cls, v: object) -> object:
        """``QM_ENCODER_ADAPTER=`` (empty) or ``none`` switches the adapter off."""
        return None if isinstance(v, str) and v.strip().lower() in ("", "none") else v

    @field_validator("redact_types", mode="before")
    @classmethod
    def _pii_types(cls, v: object) -> object:
        """``QM_REDACT_TYPES=CARD,CVV,PHONE`` (any case, spaces allowed) or ``all``; unknown names are refused."""
        if isinstance(v, str):
            v = PII_TYPES if v.strip().lower() == "all" else [t for t in v.split(",") if t.strip()]
        names = tuple(str(t).strip().upper() for t in v)  # type: ignore[union-attr]
        unknown = sorted(set(names) - set(PII_TYPES))
        if unknown:
            raise ValueError(f"unknown PII type(s) {unknown}; known: {', '.join(PII_TYPES)} (or 'all')")
        return tuple(t for t in PII_TYPES if t in names)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'qm.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
