"""Numbers, dates and money said in Spanish, German and French, token by token."""

from __future__ import annotations

import pytest
from num2words import num2words

from storyreel.voice.normalize import LANGUAGES, normalise, spoken_tokens


@pytest.mark.parametrize(("language", "text", "spoken"), [
    # money, the sign after the amount with a space (as these languages write it)
    ("es", "Cuesta 1.234,50 € hoy.",
     "Cuesta mil doscientos treinta y cuatro euros con cincuenta céntimos hoy."),
    ("de", "Es kostet 1.234,50 € heute.",
     "Es kostet eintausendzweihundertvierunddreißig Euro und fünfzig Cent heute."),
    ("fr", "Il coûte 1.234,50 € ce matin.",
     "Il coûte mille deux cent trente-quatre euros et cinquante centimes ce matin."),
    ("fr", "Il coûte 1 234,50 € !",
     "Il coûte mille deux cent trente-quatre euros et cinquante centimes !"),
    ("es", "Pagó 21 € y 1 £.", "Pagó veintiún euros y una libra."),
    ("es", "Ganó 1.000.000 €.", "Ganó un millón de euros."),
    ("de", "Nur 1 € und 5€.", "Nur ein Euro und fünf Euro."),
    ("fr", "Pour 1 £ et 2 $.", "Pour une livre et deux dollars."),
    # dates
    ("es", "El 3 de mayo de 2024 llegó.", "El tres de mayo de dos mil veinticuatro llegó."),
    ("es", "Nació el 03/05/1984.", "Nació el tres de mayo de mil novecientos ochenta y cuatro."),
    ("de", "Am 3. Mai 2024 war es so.", "Am dritten Mai zweitausendvierundzwanzig war es so."),
    ("de", "Der 3.5.2024 war ein Freitag.",
     "Der dritter Mai zweitausendvierundzwanzig war ein Freitag."),
    ("de", "Geboren 1984 in Bonn.", "Geboren neunzehnhundertvierundachtzig in Bonn."),
    ("fr", "Le 1er mai 2024 et le 3 mai.",
     "Le premier mai deux mille vingt-quatre et le trois mai."),
    ("fr", "Le 01/05/2024.", "Le premier mai deux mille vingt-quatre."),
    # ordinals
    ("es", "Quedó 3.º y ella 1.ª en el 1.er intento.",
     "Quedó tercero y ella primera en el primer intento."),
    ("de", "Der 2. Platz ging an sie.", "Der zweite Platz ging an sie."),
    ("fr", "La 1re fois, au 21e siècle.", "La première fois, au vingt et unième siècle."),
    # percent, decimals, negatives, clock times
    ("es", "Subió un 50 % y luego 12,5%.",
     "Subió un cincuenta por ciento y luego doce coma cinco por ciento."),
    ("de", "Plus 50 % bei -3,05 Grad.",
     "Plus fünfzig Prozent bei minus drei Komma null fünf Grad."),
    ("fr", "Hausse de 50 %.", "Hausse de cinquante pour cent."),
    ("es", "A las 14:30 o 9:00.", "A las catorce y treinta o nueve en punto."),
    ("de", "Um 14:30 Uhr oder 9:00 Uhr.", "Um vierzehn Uhr dreißig oder neun Uhr."),
    ("fr", "À 14h30 ou 1h00.", "À quatorze heures trente ou une heure."),
    # thousands with spaces (French) and plain large numbers
    ("fr", "Il y a 1 234 567 habitants.",
     "Il y a un million deux cent trente-quatre mille cinq cent soixante-sept habitants."),
    ("es", "Hay 1.234 casas.", "Hay mil doscientos treinta y cuatro casas."),
])
def test_numbers_dates_and_money_are_said_in_the_language(language: str, text: str,
                                                           spoken: str) -> None:
    assert normalise(text, language) == spoken


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_every_written_token_keeps_a_spoken_form(language: str) -> None:
    text = "Él pagó 1.234,50 € el 3/5/2024 , 50 % y 1 000 ¡vale! 3. Mai 14:30 Uhr 1er €"
    tokens = spoken_tokens(text, language)
    assert len(tokens) == len(text.split())  # word timings map back one to one
    assert normalise(text, language) == " ".join(t for t in tokens if t)
    assert not any(c.isdigit() for c in normalise(text, language))


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_plain_numbers_agree_with_num2words(language: str) -> None:
    for number in (0, 7, 16, 21, 99, 101, 999, 12_345, 1_000_001):
        written = f"{number:,}".replace(",", ".")
        assert normalise(f"x {written} y", language) == (
            f"x {num2words(number, lang=language)} y")


def test_languages_without_rules_keep_their_digits_for_the_voice() -> None:
    assert normalise("Было 3 кота и 1.234,50 €.", "ru") == "Было 3 кота и 1.234,50 €."
    assert normalise("It cost $5.", "en-GB") == "It cost five dollars."


@pytest.mark.parametrize("text", ["", "€", "% € $", "1.2.3.4.5", "99999999999999999999",
                                  "3.º.º", "1e", "00/00/0000", "\u2212", "1 000 000 000 000 000"])
@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_odd_tokens_never_fail(text: str, language: str) -> None:
    tokens = spoken_tokens(text, language)
    assert len(tokens) == len(text.split())
