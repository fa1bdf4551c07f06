"""Numba, the one way storyreel compiles its inner loops, kept off the first frame's path.

Importing Numba takes about 0.25 s and readying it for the first compiled call 0.45 s
more (its typing registries, and SciPy's linear algebra for its BLAS check), all of it
holding Python's lock. A render's first frame waits for its first narration's words
(the warp) and for the Ken Burns sampler. So:

- a loop with a *twin* (the same loop in NumPy, giving the very same results bit for
  bit, only slower) runs as its twin until Numba is ready, and compiled after;
- a loop without one waits for Numba, readying it first if nothing has begun to;
- :func:`warm_up` readies Numba on a thread of its own (``storyreel-numba``): Numba is
  imported and every loop compiled for the argument types it is called with. A render
  calls it once its first frame's words are found, so that it happens while the encoder
  works instead of before the first frame.

The machine code is kept in Numba's cache (beside the loop's module, or in the user's
cache folder when that one is read-only), so later processes load it in milliseconds.
Where neither can be written, each process compiles it again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, ParamSpec, TypeVar

from storyreel.errors import RenderError

__all__ = ["compiled", "numba_ready", "wait_for_numba", "warm_up"]

P = ParamSpec("P")
R = TypeVar("R")


class _Numba:
    """Numba in this process: readied once, on one thread, for every loop known then."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loops: list[_Loop[Any, Any]] = []
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._error: BaseException | None = None

    def add(self, loop: _Loop[Any, Any]) -> None:
        with self._lock:
            self._loops.append(loop)

    def start(self) -> None:
        """Begin readying Numba on its own thread, unless that has begun."""
        with self._lock:
            if self._thread is not None:
                return
            # Not a daemon: an interpreter that exits first waits for the compiler to
            # finish rather than stopping it inside LLVM.
            self._thread = threading.Thread(target=self._ready, name="storyreel-numba")
            self._thread.start()

    def _ready(self) -> None:
        try:
            import numba  # noqa: F401  (the import is the first half of the work)

            with self._lock:
                loops = list(self._loops)
            for loop in loops:
                loop.compile()
        except BaseException as exc:  # kept for the callers who wait; re-raised there
            self._error = exc
        finally:
            self._done.set()

    def ready(self) -> bool:
        """Whether Numba is ready (or failed to be: :meth:`wait` tells which)."""
        return self._done.is_set()

    def wait(self) -> None:
        """Ready Numba (or wait for the thread that does).

        Raises:
            RenderError: Numba cannot be imported or cannot compile a loop.
        """
        self.start()
        self._done.wait()
        if self._error is not None:
            raise RenderError(f"Numba, which storyreel's inner loops need, does not work "
                              f"here: {type(self._error).__name__}: {self._error}"
                              ) from self._error


_NUMBA = _Numba()


def _njit(function: Callable[P, R], boundscheck: bool | None) -> Callable[P, R]:
    import numba

    try:
        jitted = numba.njit(cache=True, nogil=True, boundscheck=boundscheck)(function)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        jitted = numba.njit(nogil=True, boundscheck=boundscheck)(function)
    return jitted


class _Loop(Generic[P, R]):
    """A loop compiled by Numba once Numba is ready, and its twin before."""

    def __init__(self, function: Callable[P, R], twin: Callable[P, R] | None,
                 boundscheck: bool | None,
                 examples: Callable[[], Sequence[tuple[Any, ...]]] | None,
                 numba: _Numba) -> None:
        self._numba = numba
        numba.add(self)
        self._function = function
        self._twin = twin
        self._boundscheck = boundscheck
        self._examples = examples
        self._jitted: Callable[P, R] | None = None
        self._lock = threading.Lock()
        self.__name__ = function.__name__
        self.__doc__ = function.__doc__

    def compile(self) -> Callable[P, R]:
        """The loop compiled, for the argument types of its examples too."""
        with self._lock:
            if self._jitted is None:
                jitted = _njit(self._function, self._boundscheck)
                for arguments in self._examples() if self._examples is not None else ():
                    jitted(*arguments)  # type: ignore[call-arg]
                self._jitted = jitted
            return self._jitted

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        jitted = self._jitted
        if jitted is not None:
            return jitted(*args, **kwargs)
        if self._twin is not None and not self._numba.ready():
            return self._twin(*args, **kwargs)
        self._numba.wait()
        return self.compile()(*args, **kwargs)


def compiled(function: Callable[P, R], *, twin: Callable[P, R] | None = None,
             boundscheck: bool | None = None,
             examples: Callable[[], Sequence[tuple[Any, ...]]] | None = None
             ) -> Callable[P, R]:
    """``function`` compiled by Numba (without Python's lock) once Numba is ready.

    Args:
        function: The loop, written for Numba.
        twin: The same loop for NumPy, with the very same results (tests compare them);
            it runs instead while Numba is not ready yet.
        boundscheck: Numba's index checks (``None``: Numba's default, off).
        examples: Arguments of the types the loop is called with; :func:`warm_up`
            compiles it for each.
    """
    return _Loop(function, twin, boundscheck, examples, _NUMBA)


def warm_up() -> None:
    """Begin readying Numba on a thread of its own (once per process); returns at once."""
    _NUMBA.start()


def numba_ready() -> bool:
    """Whether Numba has been readied (its loops compiled), or failed to be."""
    return _NUMBA.ready()


def wait_for_numba() -> None:
    """Ready Numba now, or wait for the thread that does.

    Raises:
        RenderError: Numba cannot be imported or cannot compile a loop.
    """
    _NUMBA.wait()
