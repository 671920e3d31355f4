"""The worker side of the runtime: one session cache per process, model bytes read from the encrypted blob.

DLSAAS_INFERENCE_DEVICE (cuda | cpu; default cuda) says what a session asks for; onnxruntime falls back to the CPU
where CUDA cannot load, and the provider that actually ran is reported with every run.
DLSAAS_INFERENCE_CACHE (default 4) bounds how many model versions a process keeps loaded.
"""

import io
import os

from PIL import Image

from apps.storage.services import blob_read_bytes

from .models import ModelVersion
from .runtime import Predictor, SessionCache, parse_decoder, parse_input_spec

DEVICE = os.environ.get("DLSAAS_INFERENCE_DEVICE", "cuda").strip().lower()
CACHE = SessionCache(capacity=int(os.environ.get("DLSAAS_INFERENCE_CACHE", "4")), device=DEVICE)


def label_map_of(version: ModelVersion) -> dict[int, str]:
    return {int(k): v for k, v in (version.label_map or {}).items()}


def predictor_for(version: ModelVersion, *, cache: SessionCache | None = None) -> Predictor:
    cache = cache or CACHE
    loaded = cache.get(version.sha256, lambda: blob_read_bytes(version.blob))
    return Predictor(loaded, parse_input_spec(version.input_spec), parse_decoder(version.decoder),
                     label_map_of(version), model_version_id=version.pk,
                     batch_size=int(version.signature.get("batch_size") or 1))


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
