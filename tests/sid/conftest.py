import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """sid tests compare timings and exact results: one torch thread, restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
