"""Client for the stand-in's fault switch (``/__standin__/faults``), used by tests.

A test facility: it talks only to the stand-in, never to Odoo. See ``faults.py`` for
what each mode does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Self

import httpx

from odoo_standin.faults import FAULT_ROUTE, FaultMode, FaultSetting


class FaultControlError(Exception):
    """The stand-in refused a fault setting or could not be reached."""


class FaultControl:
    def __init__(self, url: str, *, timeout_seconds: float = 5.0) -> None:
        self._http = httpx.Client(
            base_url=url.rstrip("/"), timeout=httpx.Timeout(timeout_seconds)
        )

    def current(self) -> FaultSetting:
        return self._answer(self._http.get(FAULT_ROUTE))

    def switch_on(
        self,
        mode: FaultMode | str,
        *,
        status: int = 503,
        latency_ms: int = 0,
        retry_after: int = 1,
        remaining: int | None = None,
        models: Sequence[str] | None = None,
    ) -> FaultSetting:
        setting = FaultSetting(
            mode=FaultMode(mode),
            status=status,
            latency_ms=latency_ms,
            retry_after=retry_after,
            remaining=remaining,
            models=None if models is None else list(models),
        )
        return self.switch(setting)

    def switch(self, setting: FaultSetting) -> FaultSetting:
        body = setting.model_dump(mode="json")
        return self._answer(self._http.post(FAULT_ROUTE, json=body))

    def clear(self) -> FaultSetting:
        return self.switch(FaultSetting())

    @contextlib.contextmanager
    def injected(
        self, mode: FaultMode | str, **options: object
    ) -> Iterator[FaultSetting]:
        """Switch a fault on for the ``with`` block and off again after it."""
        setting = self.switch_on(mode, **options)  # type: ignore[arg-type]
        try:
            yield setting
        finally:
            self.clear()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @staticmethod
    def _answer(response: httpx.Response) -> FaultSetting:
        if response.status_code != 200:
            raise FaultControlError(
                f"fault switch answered {response.status_code}: {response.text}"
            )
        return FaultSetting.model_validate(response.json())
