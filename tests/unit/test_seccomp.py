"""The syscall filter is compiled by libseccomp from one allow list, for every architecture the gateway supports."""

from __future__ import annotations

import struct

import pytest

from chalicelib.runtime.local import seccomp

LD_ABS, JEQ, JGE, RET = 0x20, 0x15, 0x35, 0x06


def _instructions(raw: bytes) -> list[tuple[int, int, int, int]]:
    return [struct.unpack("HBBI", raw[i:i + 8]) for i in range(0, len(raw), 8)]


@pytest.mark.parametrize("machine", sorted(seccomp.ARCHES))
@pytest.mark.parametrize("runtime", ["python", "node"])
def test_a_program_is_built_for_every_supported_architecture(machine, runtime):
    ins = _instructions(seccomp.program(machine, runtime=runtime))
    # THEN it first checks the architecture and kills any other ABI
    assert ins[0] == (LD_ABS, 0, 0, 4)
    assert ins[1][0] == JEQ and ins[1][3] == seccomp.ARCHES[machine]
    assert (RET, 0, 0, seccomp.ACT_KILL_PROCESS) in ins
    # AND it fits the kernel's limit of 4096 instructions
    assert len(ins) < 4096


def test_x86_64_kills_the_x32_abi():
    ins = _instructions(seccomp.program("x86_64"))
    assert any(code == JGE and k == 0x40000000 for code, _, _, k in ins[:6])


def test_only_the_node_program_allows_an_execveat():
    python, node = seccomp.program("x86_64", runtime="python"), seccomp.program("x86_64", runtime="node")
    assert len(_instructions(node)) > len(_instructions(python))
    assert any(k == seccomp.EXEC_FD for *_, k in _instructions(node))
    assert not any(k == seccomp.EXEC_FD for *_, k in _instructions(python))


def test_unknown_architectures_are_refused():
    with pytest.raises(OSError, match="no syscall filter for riscv64"):
        seccomp.program("riscv64")


def test_syscall_numbers_come_from_libseccomp_for_each_architecture():
    assert (seccomp.syscall_number("clone", "x86_64"), seccomp.syscall_number("clone", "aarch64")) == (56, 220)
    assert seccomp.syscall_number("open", "aarch64") < 0  # aarch64 has only openat
