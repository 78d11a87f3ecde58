"""Names of common Vietnamese news outlets, so answers can cite "Báo Gia Lai" rather than "GLO".

Archives mark the outlet with a short code (`(GLO)-` in the seed format) or a domain
(`dantri.com.vn` in JSONL dumps). Unknown codes are kept as given: a code is still better
than nothing, and guessing would mislabel sources.
"""

from __future__ import annotations

import logging

from ingest.clean import clean_line, fold_diacritics

logger = logging.getLogger(__name__)

SOURCE_NAMES: dict[str, str] = {
    "GLO": "Báo Gia Lai",
    "BĐK": "Báo Đắk Lắk",
    "BKT": "Báo Kon Tum",
    "BĐN": "Báo Đắk Nông",
    "BLĐ": "Báo Lâm Đồng",
    "DT": "Dân trí",
    "VNE": "VnExpress",
    "TT": "Tuổi Trẻ",
    "TTO": "Tuổi Trẻ Online",
    "TN": "Thanh Niên",
    "VOV": "Đài Tiếng nói Việt Nam",
    "VTV": "Đài Truyền hình Việt Nam",
    "TTXVN": "Thông tấn xã Việt Nam",
    "VNA": "Thông tấn xã Việt Nam",
    "ND": "Nhân Dân",
    "QĐND": "Quân đội Nhân dân",
    "CAND": "Công an Nhân dân",
    "SGGP": "Sài Gòn Giải Phóng",
    "LĐ": "Lao Động",
    "NLĐ": "Người Lao Động",
    "PL": "Pháp Luật TP.HCM",
    "HNM": "Hà Nội Mới",
    "VTC": "VTC News",
    "VOH": "Đài Tiếng nói Nhân dân TP.HCM",
    "VIETNAMNET": "VietNamNet",
    "ZING": "Znews",
    "KTĐT": "Kinh tế & Đô thị",
    "TG": "Báo Thế giới và Việt Nam",
}

DOMAIN_NAMES: dict[str, str] = {
    "baogialai.com.vn": "Báo Gia Lai",
    "baodaklak.vn": "Báo Đắk Lắk",
    "baokontum.com.vn": "Báo Kon Tum",
    "baodaknong.vn": "Báo Đắk Nông",
    "baolamdong.vn": "Báo Lâm Đồng",
    "dantri.com.vn": "Dân trí",
    "vnexpress.net": "VnExpress",
    "tuoitre.vn": "Tuổi Trẻ",
    "thanhnien.vn": "Thanh Niên",
    "vov.vn": "Đài Tiếng nói Việt Nam",
    "vtv.vn": "Đài Truyền hình Việt Nam",
    "baotintuc.vn": "Thông tấn xã Việt Nam",
    "vietnamplus.vn": "Thông tấn xã Việt Nam",
    "nhandan.vn": "Nhân Dân",
    "qdnd.vn": "Quân đội Nhân dân",
    "cand.com.vn": "Công an Nhân dân",
    "sggp.org.vn": "Sài Gòn Giải Phóng",
    "laodong.vn": "Lao Động",
    "nld.com.vn": "Người Lao Động",
    "plo.vn": "Pháp Luật TP.HCM",
    "hanoimoi.vn": "Hà Nội Mới",
    "vtc.vn": "VTC News",
    "vietnamnet.vn": "VietNamNet",
    "znews.vn": "Znews",
    "zingnews.vn": "Znews",
}

# Accent-insensitive lookup ("QDND", "LD") for archives typed without Vietnamese keyboards;
# exact codes win, so "DT" (Dân trí) is never shadowed by a folded "ĐT".
_FOLDED = {fold_diacritics(code): name for code, name in SOURCE_NAMES.items()}


def source_name(source: str | None) -> str | None:
    """Human name for an outlet code or domain; unknown sources are returned as given.

    Args:
        source: A code such as `GLO`, a domain such as `dantri.com.vn`, or a URL host.

    Returns:
        The outlet name, the cleaned input when unknown, or None when `source` is empty.
    """
    if source is None:
        return None
    code = clean_line(source)
    if not code:
        return None
    upper = code.upper()
    if upper in SOURCE_NAMES:
        return SOURCE_NAMES[upper]
    host = code.lower().removeprefix("https://").removeprefix("http://").split("/")[0]
    for domain, name in DOMAIN_NAMES.items():
        if host == domain or host.endswith("." + domain):  # www., m., subdomains
            return name
    return _FOLDED.get(fold_diacritics(code), code)
