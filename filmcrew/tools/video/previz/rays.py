"""Geometric optics and colour science as plain functions (no drawing), so they can be unit-tested.

Directions are 2D unit vectors in world coordinates (y up). Wavelengths are in nanometres. Colours are
linear-light spectra integrated against an analytic fit of the CIE 1931 colour matching functions
(Wyman, Sloan and Shirley 2013, piecewise Gaussians) and encoded to sRGB.
"""

from __future__ import annotations

import numpy as np

VISIBLE_NM = np.linspace(380.0, 780.0, 81)
SODIUM_D_NM = 589.3

# Cauchy B coefficient (µm²) of common transparent materials; crown glass is the textbook prism.
CAUCHY_B_UM2 = {"glass": 0.00420, "ice": 0.00300, "water": 0.00310, "flint": 0.01050}

_XYZ_TO_SRGB = np.array(
    [[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]]
)


def _lobe(lam: np.ndarray, mu: float, s1: float, s2: float) -> np.ndarray:
    s = np.where(lam < mu, s1, s2)
    return np.exp(-0.5 * ((lam - mu) / s) ** 2)


def cie_xyz(wavelength_nm: np.ndarray | float) -> np.ndarray:
    """CIE 1931 2° colour matching functions (x̄, ȳ, z̄) at the given wavelengths, shape (..., 3)."""
    lam = np.asarray(wavelength_nm, dtype=float)
    x = 1.056 * _lobe(lam, 599.8, 37.9, 31.0) + 0.362 * _lobe(lam, 442.0, 16.0, 26.7) \
        - 0.065 * _lobe(lam, 501.1, 20.4, 26.2)
    y = 0.821 * _lobe(lam, 568.8, 46.9, 40.5) + 0.286 * _lobe(lam, 530.9, 16.3, 31.1)
    z = 1.217 * _lobe(lam, 437.0, 11.8, 36.0) + 0.681 * _lobe(lam, 459.0, 26.0, 13.8)
    return np.stack([x, y, z], axis=-1)


def xyz_to_srgb(xyz: np.ndarray) -> np.ndarray:
    """CIE XYZ (Y = 1 is white) to gamma-encoded sRGB in [0, 1]; out-of-gamut values are clipped."""
    lin = np.clip(np.asarray(xyz, dtype=float) @ _XYZ_TO_SRGB.T, 0, None)
    lin = np.clip(lin, 0, 1)
    return np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)


def spectrum_to_srgb(power: np.ndarray, wavelengths_nm: np.ndarray = VISIBLE_NM) -> np.ndarray:
    """Colour of spectra (..., L) sampled at `wavelengths_nm`, relative to an equal-energy white of 1."""
    cmf = cie_xyz(wavelengths_nm)
    xyz = np.asarray(power, dtype=float) @ cmf / cmf[:, 1].sum()
    return xyz_to_srgb(xyz)


def wavelength_rgb(wavelength_nm: np.ndarray | float) -> np.ndarray:
    """Display colour of monochromatic light: the spectral hue, brightest channel scaled to 1."""
    xyz = cie_xyz(wavelength_nm)
    lin = np.clip(xyz @ _XYZ_TO_SRGB.T, 0, None)
    lin = lin / np.maximum(lin.max(axis=-1, keepdims=True), 1e-9)
    return np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)


def blackbody_rgb(temperature_k: np.ndarray | float) -> np.ndarray:
    """Chromaticity of a Planck radiator as sRGB with the brightest channel at 1, shape (..., 3).

    Why: flame and fireball colours come from their temperature (dull red at 900 K, orange at 1500 K,
    yellow-white at 2500 K), not from a hand-picked palette.
    """
    t = np.atleast_1d(np.asarray(temperature_k, dtype=float))[..., None]
    lam = VISIBLE_NM * 1e-9
    c2 = 1.4388e-2  # second radiation constant h c / k, m·K
    planck = 1.0 / (lam**5 * np.expm1(c2 / (lam * np.maximum(t, 1.0))))
    xyz = planck @ cie_xyz(VISIBLE_NM)
    lin = np.clip(xyz @ _XYZ_TO_SRGB.T, 0, None)
    lin = lin / np.maximum(lin.max(axis=-1, keepdims=True), 1e-30)
    rgb = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
    return rgb.reshape((*np.shape(temperature_k), 3))


def cauchy_index(wavelength_nm: np.ndarray | float, n_d: float, b_um2: float = 0.0042) -> np.ndarray:
    """Refractive index n(λ) = A + B/λ² fitted to n_d at the sodium D line (Cauchy's dispersion law)."""
    lam_um = np.asarray(wavelength_nm, dtype=float) / 1000.0
    a = n_d - b_um2 / (SODIUM_D_NM / 1000.0) ** 2
    return a + b_um2 / lam_um**2


def reflect(d: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Mirror direction d about the surface with unit normal n: d - 2 (d·n) n (law of reflection)."""
    d = np.asarray(d, dtype=float)
    n = np.asarray(n, dtype=float)
    return d - 2 * np.sum(d * n, axis=-1, keepdims=True) * n


def refract(d: np.ndarray, n: np.ndarray, n1: float, n2: float) -> np.ndarray | None:
    """Direction of a unit ray d after crossing a surface with unit normal n from index n1 into n2.

    Snell's law n1 sin θ1 = n2 sin θ2 in vector form; the normal may face either side. Returns None on
    total internal reflection.
    """
    d = np.asarray(d, dtype=float)
    n = np.asarray(n, dtype=float)
    cos_i = -float(d @ n)
    if cos_i < 0:  # the normal faces away from the incoming ray: flip it
        n, cos_i = -n, -cos_i
    eta = n1 / n2
    k = 1.0 - eta**2 * (1.0 - cos_i**2)
    if k < 0:
        return None
    return eta * d + (eta * cos_i - np.sqrt(k)) * n


def _hit_polygon(o: np.ndarray, d: np.ndarray, poly: np.ndarray, eps: float = 1e-9):
    """Nearest crossing of ray o + s d (s > eps) with the polygon's edges: (s, edge index) or None."""
    a = poly
    b = np.roll(poly, -1, axis=0)
    e = b - a
    denom = d[0] * e[:, 1] - d[1] * e[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        w = a - o
        s = (w[:, 0] * e[:, 1] - w[:, 1] * e[:, 0]) / denom
        u = (w[:, 0] * d[1] - w[:, 1] * d[0]) / denom
    ok = (np.abs(denom) > 1e-12) & (s > eps) & (u >= 0) & (u <= 1)
    if not ok.any():
        return None
    i = int(np.argmin(np.where(ok, s, np.inf)))
    return float(s[i]), i


def _outward_normal(poly: np.ndarray, i: int) -> np.ndarray:
    e = np.roll(poly, -1, axis=0)[i] - poly[i]
    nrm = np.array([e[1], -e[0]]) / np.hypot(*e)
    centre = poly.mean(axis=0)
    return nrm if nrm @ (poly[i] - centre) > 0 else -nrm


def trace_convex(
    origin: np.ndarray,
    direction: np.ndarray,
    polygon: np.ndarray,
    n_inside: float,
    n_outside: float = 1.0,
    max_internal: int = 4,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Trace a ray through a convex transparent polygon; returns the path points and the exit direction.

    Refracts on entry and exit by Snell's law and reflects internally on total internal reflection.
    A ray that misses the polygon returns [origin] and its own direction.
    """
    poly = np.asarray(polygon, dtype=float)
    o = np.asarray(origin, dtype=float)
    d = np.asarray(direction, dtype=float)
    d = d / np.linalg.norm(d)
    path = [o]
    hit = _hit_polygon(o, d, poly)
    if hit is None:
        return path, d
    s, i = hit
    o = o + s * d
    path.append(o)
    d_in = refract(d, _outward_normal(poly, i), n_outside, n_inside)
    if d_in is None:
        return path, reflect(d, _outward_normal(poly, i))
    d = d_in
    for _ in range(max_internal):
        hit = _hit_polygon(o, d, poly, eps=1e-7)
        if hit is None:
            return path, d
        s, i = hit
        o = o + s * d
        path.append(o)
        nrm = _outward_normal(poly, i)
        out = refract(d, nrm, n_inside, n_outside)
        if out is not None:
            return path, out
        d = reflect(d, nrm)
    return path, d


def prism_polygon(center: tuple[float, float], side: float, apex_deg: float = 60.0) -> np.ndarray:
    """An isosceles prism standing on its base, apex up, centred on its bounding box."""
    cx, cy = center
    half = side / 2
    h = half / np.tan(np.radians(apex_deg) / 2)
    return np.array([[cx - half, cy - h / 2], [cx + half, cy - h / 2], [cx, cy + h / 2]])


def circle_polygon(center: tuple[float, float], radius: float, k: int = 48) -> np.ndarray:
    """A k-gon approximating a circle (a lens, a glass ball, a droplet)."""
    a = np.linspace(0, 2 * np.pi, k, endpoint=False)
    return np.column_stack((center[0] + radius * np.cos(a), center[1] + radius * np.sin(a)))


def minimum_deviation_deg(n: float, apex_deg: float = 60.0) -> float:
    """Closed-form minimum deviation of a prism: D = 2 asin(n sin(A/2)) - A."""
    a = np.radians(apex_deg)
    return float(np.degrees(2 * np.arcsin(n * np.sin(a / 2)) - a))


def thin_film_reflectance(
    thickness_nm: np.ndarray | float,
    wavelength_nm: np.ndarray | float,
    n_film: float,
    n_outside: float = 1.0,
    n_substrate: float = 1.0,
    cos_t: np.ndarray | float = 1.0,
) -> np.ndarray:
    """Reflectance of a thin film (Airy summation of the two interfaces' multiple reflections).

    Phase difference δ = 4π n d cos θt / λ; normal-incidence Fresnel amplitudes. Broadcasts over
    thickness and wavelength.
    """
    d = np.asarray(thickness_nm, dtype=float)
    lam = np.asarray(wavelength_nm, dtype=float)
    r12 = (n_outside - n_film) / (n_outside + n_film)
    r23 = (n_film - n_substrate) / (n_film + n_substrate)
    cos_delta = np.cos(4 * np.pi * n_film * d * np.asarray(cos_t) / lam)
    num = r12**2 + r23**2 + 2 * r12 * r23 * cos_delta
    den = 1 + (r12 * r23) ** 2 + 2 * r12 * r23 * cos_delta
    return num / den


def thin_film_rgb(
    thickness_nm: np.ndarray, n_film: float, n_substrate: float = 1.0, gain: float = 6.0
) -> np.ndarray:
    """sRGB colour (N, 3) in [0, 1] of a film of each thickness under white light.

    `gain` lifts the few-percent reflectance of a soap film to display brightness (as an exposure
    would); the hues are unchanged: thin films go black, then white, yellow, magenta, blue, green.
    """
    r = thin_film_reflectance(np.asarray(thickness_nm, dtype=float)[..., None], VISIBLE_NM, n_film,
                              n_substrate=n_substrate)
    return spectrum_to_srgb(gain * r)


def rayleigh_colors(distance: np.ndarray, tau_per_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Colours along a white beam in a Rayleigh-scattering medium, at each distance from its source.

    Returns (transmitted, scattered): the beam reddens as blue is scattered out (exp(-τ λ⁻⁴ s)), while
    the light scattered sideways towards the camera is λ⁻⁴-weighted and so bluish. τ is the optical
    depth per metre at 550 nm. Both are sRGB in [0, 1], shape (N, 3).
    """
    s = np.asarray(distance, dtype=float)[..., None]
    k = (550.0 / VISIBLE_NM) ** 4
    transmitted = np.exp(-tau_per_m * k * s)
    scattered = transmitted * k
    t_rgb = spectrum_to_srgb(transmitted)
    s_rgb = spectrum_to_srgb(scattered / scattered.max(axis=-1, keepdims=True))
    return t_rgb, s_rgb
