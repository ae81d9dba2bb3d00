"""Import a Lambda handler, an example or a script from its file, the way its runtime would see it."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType


def load_file(
    name: str,
    path: Path,
    *,
    search: Sequence[Path] = (),
    siblings: Sequence[str] = (),
    register: bool = True,
    keep_search: bool = False,
) -> ModuleType:
    """Import the file ``path`` as module ``name``.

    :param search: folders put first on ``sys.path`` while it is imported (the asset's own folder, the shared
        modules, a layer), then taken off again. Default: none.
    :param siblings: modules of those folders the file imports; they are dropped from ``sys.modules``
        afterwards (the loaded module keeps its references) and same-named modules restored, so two
        functions' ``handler`` or ``settings`` never meet. Default: none.
    :param register: keep the module in ``sys.modules`` under ``name`` (dataclasses and pickling need it).
        Default: True.
    :param keep_search: leave the ``search`` folders on ``sys.path`` (for code that imports a sibling lazily,
        at call time). Default: False.
    """
    saved = {sibling: sys.modules.pop(sibling) for sibling in siblings if sibling in sys.modules}
    added = [str(folder) for folder in search if str(folder) not in sys.path]
    sys.path[:0] = added
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None, path
        module = importlib.util.module_from_spec(spec)
        if register:
            sys.modules[name] = module
        spec.loader.exec_module(module)
    finally:
        for folder in added if not keep_search else ():
            sys.path.remove(folder)
        for sibling in siblings:
            sys.modules.pop(sibling, None)
        sys.modules.update(saved)
    return module
