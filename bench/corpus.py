"""A deterministic Vietnamese corpus of any size, for the benchmarks.

``python -m bench.corpus N OUT.jsonl`` writes N articles as JSON Lines in the import
format; the same N always gives the same bytes.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

TOPS = [
    "Thông tin - Tuyên truyền",
    "Chính trị - Xã hội",
    "Xây dựng Đảng",
    "Văn hóa - Khoa giáo",
    "Kinh tế",
    "Quốc phòng - An ninh",
    "Dân vận",
    "Lý luận chính trị",
    "Báo chí - Xuất bản",
    "Thi đua - Khen thưởng",
    "Nông thôn mới",
    "Y tế",
    "Giáo dục",
    "Thể thao",
    "Du lịch",
    "Môi trường",
    "Khoa học - Công nghệ",
    "Pháp luật",
    "Đối ngoại",
    "Thông báo",
]
CHILDREN = [
    "Tin tức hoạt động",
    "Hội nghị - Hội thảo",
    "Tin trong tỉnh",
    "Tin trong nước",
    "Gương điển hình",
    "Văn bản chỉ đạo",
    "Chuyên đề",
    "Phóng sự",
    "Ý kiến bạn đọc",
    "Tư liệu",
]
SUBJECTS = [
    "Hội nghị giao ban công tác tuyên giáo",
    "Hội thảo khoa học về Chủ tịch Hồ Chí Minh",
    "Tọa đàm kỷ niệm ngày thành lập Đảng",
    "Sơ kết công tác dân vận",
    "Tổng kết phong trào thi đua",
    "Lễ ra quân làm sạch đường làng",
    "Tập huấn nghiệp vụ báo cáo viên",
    "Đoàn công tác của Tỉnh ủy thăm",
    "Khai giảng lớp bồi dưỡng lý luận chính trị",
    "Huyện Văn Lâm triển khai nhiệm vụ",
    "Thị xã Mỹ Hào đẩy mạnh chuyển đổi số",
    "Khoái Châu phát triển vùng nhãn lồng",
]
PLACES = [
    "Văn Lâm",
    "Văn Giang",
    "Yên Mỹ",
    "Mỹ Hào",
    "Khoái Châu",
    "Ân Thi",
    "Kim Động",
    "Phù Cừ",
    "Tiên Lữ",
    "TP Hưng Yên",
]
WORDS = [
    "Đảng",
    "bộ",
    "chính",
    "quyền",
    "nhân",
    "dân",
    "cán",
    "bộ",
    "đảng",
    "viên",
    "tuyên",
    "truyền",
    "nghị",
    "quyết",
    "chỉ",
    "thị",
    "phát",
    "triển",
    "kinh",
    "tế",
    "xã",
    "hội",
    "quốc",
    "phòng",
    "an",
    "ninh",
    "văn",
    "hóa",
    "giáo",
    "dục",
    "y",
    "tế",
    "nông",
    "thôn",
    "mới",
    "chuyển",
    "đổi",
    "số",
    "đoàn",
    "kết",
    "thi",
    "đua",
    "khen",
    "thưởng",
    "học",
    "tập",
    "làm",
    "theo",
    "tư",
    "tưởng",
    "đạo",
    "đức",
    "phong",
    "cách",
    "Hồ",
    "Chí",
    "Minh",
    "triển",
    "khai",
    "thực",
    "hiện",
    "hiệu",
    "quả",
    "nâng",
    "cao",
    "chất",
    "lượng",
    "công",
    "tác",
    "lãnh",
    "đạo",
    "chỉ",
    "đạo",
    "điều",
    "hành",
    "đồng",
    "chí",
    "Bí",
    "thư",
    "Tỉnh",
    "ủy",
    "Chủ",
    "tịch",
]
START = datetime(2016, 1, 1, tzinfo=timezone.utc)


def categories(n: int = 200) -> list[list[str]]:
    """n leaf categories, 10 under each parent; past 200 the parents are numbered
    ("Kinh tế 2"), so every leaf is distinct (the first 200 never change)."""
    per_round = len(TOPS) * len(CHILDREN)
    return [
        [
            TOPS[i // len(CHILDREN) % len(TOPS)]
            + (f" {i // per_round + 1}" if i >= per_round else ""),
            CHILDREN[i % len(CHILDREN)],
        ]
        for i in range(n)
    ]


def articles(
    n: int, *, n_categories: int = 200, seed: int = 48, body_kb: tuple[int, int] | None = None
) -> Iterator[dict[str, object]]:
    """``body_kb=(2, 4)``: bodies of 2–4 KB of UTF-8 each (paragraphs are added until
    the drawn size is reached); by default 3–6 paragraphs of 40–90 words (~1.8 KB)."""
    rng = random.Random(seed)
    cats = categories(n_categories)
    span = (datetime(2026, 11, 29, tzinfo=timezone.utc) - START).total_seconds()
    for i in range(n):
        when = START + timedelta(seconds=int(span * (i + rng.random()) / n))
        title = f"{rng.choice(SUBJECTS)} tại {rng.choice(PLACES)} lần {i}"
        paras = [_paragraph(rng) for _ in range(rng.randint(3, 6))]
        if body_kb:
            want = rng.randint(body_kb[0] * 1024, body_kb[1] * 1024)
            while len("\n\n".join(paras).encode()) < want:
                paras.append(_paragraph(rng))
        yield {
            "id": f"tag:tuyengiaohungyen.vn,2018:bai-viet/{i + 1}",
            "url": f"https://tuyengiaohungyen.vn/bai-viet/bai-viet-{i + 1}.aspx",
            "title": title,
            "category": cats[i % len(cats)],
            "published": when.astimezone(timezone(timedelta(hours=7))).isoformat(),
            "author": rng.choice([None, "Lưu Tú", "Trần Thị Thanh Thủy", "Nguyễn Hải"]),
            "views": rng.randint(0, 5000),
            "summary": paras[0][:280],
            "body_text": "\n\n".join(paras),
            "signature": rng.choice([None, "NT", "PV", "T.H"]),
            "related": [f"Bài liên quan {rng.randint(1, n)}" for _ in range(5)],
        }


def _paragraph(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 90))).capitalize() + "."


def write(n: int, path: Path, **kw: Any) -> Path:
    """``n`` articles as JSON Lines (``n_categories=``, ``seed=`` as for ``articles``)."""
    with path.open("w", encoding="utf-8") as out:
        for rec in articles(n, **kw):
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return path


if __name__ == "__main__":
    write(int(sys.argv[1]), Path(sys.argv[2]))
