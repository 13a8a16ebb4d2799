"""Freed heap memory goes back to the OS at a growth boundary, so the grown model does not stack on fragments."""

import subprocess
import sys

# In a fresh interpreter, so that glibc's allocator state is the script's own (pytest's process has its own history).
SCRIPT = """
import ctypes, ctypes.util, os, torch
from growclip_hf.training.freed_memory import release_freed_memory
# Model-sized tensors from the heap, as after a search has freed candidates (glibc's threshold then rises by itself)
ctypes.CDLL(ctypes.util.find_library("c")).mallopt(-3, 16 * 2**20)  # M_MMAP_THRESHOLD
def resident():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
pinned, freed = [], []
for _ in range(100):  # 400 MB of model-sized tensors, each followed by a smaller one that stays and fences it in
    freed.append(torch.empty(4 * 2**20, dtype=torch.uint8).fill_(1))
    pinned.append(torch.ones(2**18, dtype=torch.uint8))
del freed
before = resident()
trimmed = release_freed_memory()
print(trimmed, before - resident(), all(int(t.sum()) == 2**18 for t in pinned))
"""


def test_freed_tensors_leave_the_resident_set():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    trimmed, released, intact = result.stdout.split()
    assert trimmed == "True"  # glibc here
    assert int(released) > 200 * 2**20  # of the 400 MB freed, most was still resident before the trim
    assert intact == "True"  # what is still in use is untouched
