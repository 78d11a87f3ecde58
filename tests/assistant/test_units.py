"""The unit a question names, and whether a sentence states a figure in it."""

from __future__ import annotations

import pytest

from assistant.answering.qtype import detect_qtype
from assistant.answering.units import states_unit


@pytest.mark.parametrize(
    ("question", "unit"),
    [
        ("Y Hông Niê Hra bị tòa tuyên phạt bao nhiêu năm tù?", "duration"),
        ("bi tuyen phat bao nhieu nam tu", "duration"),
        ("How many years in prison was he sentenced to?", "duration"),
        ("Người đó bị tạm giam bao lâu?", "duration"),
        ("How long was the dam?", "extent"),
        ("Hồ sâu bao nhiêu mét?", "length"),
        ("Xe chạy với tốc độ bao nhiêu km/h?", "length"),
        ("Bao nhiêu héc-ta cây trồng bị ảnh hưởng?", "area"),
        ("Thắng đã trả bao nhiêu tiền?", "money"),
        ("Nghi phạm bao nhiêu tuổi?", "age"),
        ("Giải đấu kết thúc vào ngày nào?", "day"),
        ("In what year was the school founded?", "year"),
        # Count nouns and open dates name no unit: they are not checked.
        ("Vụ tai nạn làm bao nhiêu người chết?", None),
        ("Tính đến 30-6 kết nạp được bao nhiêu đảng viên?", None),
        ("Khi nào hội nghị diễn ra?", None),
        ("Who chaired the conference?", None),
    ],
)
def test_the_unit_a_question_names(question: str, unit: str | None) -> None:
    assert detect_qtype(question).unit == unit


@pytest.mark.parametrize(
    ("unit", "sentence", "states"),
    [
        ("duration", "Bị cáo bị tuyên phạt 20 năm tù.", True),
        ("duration", "Bị cáo bị tuyên phạt tù chung thân.", True),
        ("duration", "Công an đã bắt tạm giam hai tháng đối với Dương.", True),
        ("duration", "Thanh niên Y Hông Niê Hra (25 tuổi) bị bắt.", False),
        ("duration", "Trong năm 2016, tỉnh đón nhiều khách.", False),
        ("age", "Thanh niên Y Hông Niê Hra (25 tuổi) bị bắt.", True),
        ("length", "Hồ sâu khoảng 3m, rộng 500 mét vuông.", True),
        ("length", "4 trẻ em chết đuối tại hồ C3 của Công ty Cà phê Ia Sao 2.", False),
        ("length", "Ba mẹ bấm chuông.", False),
        ("extent", "Con đập dài 100 mét.", True),
        ("area", "Hơn 1.200 ha cà phê bị ảnh hưởng.", True),
        ("area", "Bụi trắng trên cây trồng là bột Alumin (Al2O3).", False),
        ("money", "Thắng thuê nhóm này với giá 30 triệu đồng.", True),
        ("money", "Thắng (30 tuổi) thuê nhóm này.", False),
        ("day", "Sáng 8-2, thêm một xe khách bốc cháy.", True),
        ("day", "Cuối tuần này, giải sẽ chính thức khởi tranh.", False),
        ("day", "Cuối tuần này, Cúp bóng chuyền Liên Việt 2017 sẽ khởi tranh.", False),
        ("day", "Giải khai mạc vào thứ Hai.", True),
        ("year", "Trường được thành lập năm 1975.", True),
        ("year", "Trường được thành lập cách đây lâu.", False),
        (None, "Bất kỳ câu nào.", True),
    ],
)
def test_a_sentence_states_a_figure_in_the_unit(
    unit: str | None, sentence: str, states: bool
) -> None:
    assert states_unit(unit, sentence) is states
