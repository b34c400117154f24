"""Seeded market model: Binance perp mids, the USDT/KRW rate and a mean-reverting kimchi premium.

Everything advances in fixed steps of `dt_s` from one `random.Random(seed)`, so the same seed and
the same number of steps give the same path whatever the wall clock does. The premium is an
Ornstein-Uhlenbeck process around `premium_mean` with occasional jumps, sized so that both
profitable and unprofitable windows for a fee-aware detector show up within minutes.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from arbv2.adapters.simulator.specs import USDT_KRW0, spec_for


@dataclass(slots=True)
class ModelParams:
    """Knobs of the model; defaults give bps-scale moves per second and minute-scale premium swings."""

    premium_mean: float = 0.02
    premium_theta_per_s: float = 1.0 / 60.0      # OU speed: half-life ~42 s
    premium_sigma: float = 0.0008                 # stationary std ≈ sigma / sqrt(2 theta) ≈ 0.44 %
    premium_jump_rate_per_s: float = 1.0 / 90.0
    premium_jump_std: float = 0.006
    mid_sigma_per_sqrt_s: float = 0.00012         # calm regime, ~1.2 bps per sqrt(second) (BTC-like)
    burst_multiplier: float = 4.0
    burst_start_per_s: float = 1.0 / 120.0
    burst_end_per_s: float = 1.0 / 10.0
    fx_sigma_per_sqrt_s: float = 0.00005
    fx_theta_per_s: float = 1.0 / 600.0
    funding_rate: float = 0.0001


@dataclass(slots=True)
class SymbolState:
    """Model state of one base asset."""

    base: str
    mid_usdt: float
    premium: float
    burst: bool = False


@dataclass(slots=True)
class MarketModel:
    """Advance mids, FX and premiums; read them as floats for the book makers."""

    seed: int
    bases: tuple[str, ...]
    params: ModelParams = field(default_factory=ModelParams)
    steps: int = 0
    usdt_krw: float = USDT_KRW0
    symbols: dict[str, SymbolState] = field(default_factory=dict)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        for base in self.bases:
            self.symbols[base] = SymbolState(base, spec_for(base).mid0_usdt, self.params.premium_mean)

    def step(self, dt_s: float) -> None:
        """Advance the whole model by `dt_s` seconds of model time."""
        p, g = self.params, self.rng.gauss
        sq = math.sqrt(dt_s)
        fx_pull = p.fx_theta_per_s * (math.log(USDT_KRW0) - math.log(self.usdt_krw)) * dt_s
        self.usdt_krw *= math.exp(fx_pull + p.fx_sigma_per_sqrt_s * sq * g(0.0, 1.0))
        for st in self.symbols.values():
            if st.burst:
                st.burst = self.rng.random() >= p.burst_end_per_s * dt_s
            else:
                st.burst = self.rng.random() < p.burst_start_per_s * dt_s
            sigma = p.mid_sigma_per_sqrt_s * (p.burst_multiplier if st.burst else 1.0)
            st.mid_usdt *= math.exp(sigma * sq * g(0.0, 1.0) - 0.5 * sigma * sigma * dt_s)
            st.premium += p.premium_theta_per_s * (p.premium_mean - st.premium) * dt_s
            st.premium += p.premium_sigma * sq * g(0.0, 1.0)
            if self.rng.random() < p.premium_jump_rate_per_s * dt_s:
                st.premium += g(0.0, p.premium_jump_std)
        self.steps += 1

    def binance_mid(self, base: str) -> float:
        return self.symbols[base].mid_usdt

    def upbit_mid(self, base: str) -> float:
        """Return the KRW mid of KRW-<base>: binance mid × USDT/KRW × (1 + premium)."""
        st = self.symbols[base]
        return st.mid_usdt * self.usdt_krw * (1.0 + st.premium)

    def premium(self, base: str) -> float:
        return self.symbols[base].premium

    def snapshot(self) -> dict[str, object]:
        """Return the model state as plain numbers (admin endpoint, evidence)."""
        return {
            "steps": self.steps,
            "usdt_krw": self.usdt_krw,
            "symbols": {b: {"binance_mid_usdt": s.mid_usdt, "premium": s.premium, "burst": s.burst,
                            "upbit_mid_krw": self.upbit_mid(b)} for b, s in self.symbols.items()},
        }
