"""ResoFormer: prime-indexed tokens, resonant attention, coherence gating and entropy collapse.

Every TinyAleph idea as a trainable ``nn.Module`` (see ``docs/reso.md``); with every switch off
`ResoFormer` is nanoGPT's GPT, so ablations compare like with like.
"""

from polytok.reso.attention import ResonantAttention, golden_head_weights, resonance_angles
from polytok.reso.collapse import CollapseOutput, EntropyCollapse
from polytok.reso.embedding import PrimeEmbedding, prime_features
from polytok.reso.gate import INV_PHI, CoherenceGate
from polytok.reso.halting import PonderHalting
from polytok.reso.model import ResoBlock, ResoFormer, ResoFormerConfig
from polytok.reso.primes import PrimeTokenizer, first_primes, is_prime, nth_prime, sieve

__all__ = [
    "INV_PHI",
    "CoherenceGate",
    "CollapseOutput",
    "EntropyCollapse",
    "PonderHalting",
    "PrimeEmbedding",
    "PrimeTokenizer",
    "ResoBlock",
    "ResoFormer",
    "ResoFormerConfig",
    "ResonantAttention",
    "first_primes",
    "golden_head_weights",
    "is_prime",
    "nth_prime",
    "prime_features",
    "resonance_angles",
    "sieve",
]
