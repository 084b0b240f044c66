import subprocess
import sys

import pytest

from fgssl.methods import registry
from fgssl.methods.base import Method
from fgssl.methods.simclr import SimCLR


def test_every_built_in_method_is_found_by_the_name_its_class_declares():
    names = [cls.name for cls in registry.method_classes()]
    assert names == ["simclr", "jigsaw", "srgan", "byol", "vicreg", "dino", "supervised", "pmg"]
    assert registry.method_class("simclr") is SimCLR


def test_an_unknown_method_is_an_error_listing_the_others():
    with pytest.raises(ValueError, match="unknown method 'nope': choose one of simclr, jigsaw"):
        registry.method_class("nope")


def test_a_class_registered_at_run_time_is_found_and_a_taken_name_refused():
    class Extra(Method):
        name = "extra"

    registry.register(Extra)
    try:
        assert registry.method_class("extra") is Extra
        assert registry.runtime_added() == [Extra]
        with pytest.raises(ValueError, match="'extra' is registered already"):
            registry.register(type("Again", (Method,), {"name": "extra"}))
    finally:
        registry.unregister(Extra)
    with pytest.raises(ValueError, match="unknown method 'extra'"):
        registry.method_class("extra")


def test_the_registry_imports_no_torch():
    code = ("import sys; import fgssl.methods.registry; "
            "print(any(m in sys.modules for m in ('torch', 'torchvision', 'kornia')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"
