"""Small English word lists for the rule-based noun-phrase chooser (no NLTK or spaCy downloads).

Not a lexicon: just the verbs, adjectives and adverbs that chat complaints use most, so that a
slot is filled with the thing complained about rather than "put" or "worse".
"""

from __future__ import annotations

# Determiners before a noun phrase, turned towards the listener for a reply ("my" -> "your").
DETERMINERS = {
    "the": "the", "my": "your", "our": "your", "your": "my", "this": "this", "that": "that",
    "these": "these", "those": "those", "another": "another", "a": "a", "an": "an",
    "his": "his", "her": "her", "their": "their", "every": "every", "each": "each",
}  # fmt: skip
# A noun phrase right before one of these is what the complaint is about ("the wifi is down").
COMPLAINT_VERBS = frozenset(
    str.split(
        """is are was were keeps kept has have had broke died won't can't isn't aren't doesn't
        didn't wasn't crashed froze failed stopped decided needs took takes went just always still
        never again got refuses refused"""
    )
)
PEOPLE = frozenset(
    str.split(
        """manager boss team everyone colleague colleagues coworker coworkers client clients
        customer customers mom dad wife husband kids kid neighbour neighbor neighbours neighbors
        landlord teacher professor ceo hr guy guys people person friend friends roommate partner
        sister brother family folks"""
    )
)
ADJECTIVES = frozenset(
    str.split(
        """worse worst bad terrible awful horrible slow late broken down dead cold hot wet long
        short early busy tired sick boring annoying useless great amazing fantastic wonderful
        perfect lovely best better old entire full empty other more less free fun happy sad
        crazy weird stupid ridiculous impossible easy hard fast huge tiny small loud quiet dirty
        expensive cheap nice good real actual only own such sure fine overdue stuck mandatory
        optional urgent important favourite favorite rainy sunny snowy humid freezing boiling
        delayed cancelled canceled incredible brilliant thrilled excited shocked glad awesome
        exciting ideal super amazingly"""
    )
)
ADVERBS = frozenset(
    str.split(
        """back away again almost later soon here there everywhere somehow anyway instead quite
        rather pretty literally seriously honestly basically actually finally suddenly
        apparently clearly obviously totally definitely"""
    )
)
# Verb forms the suffix rules below miss.
IRREGULAR = frozenset(
    str.split(
        """put set let cut hit ran run ate eaten began begun broke broken brought built bought
        caught came chose chosen did done drew drawn drank drove driven fell fallen felt fought
        found flew flown forgot forgotten froze frozen gave given went gone grew grown heard hid
        held kept knew known laid led left lent lost made meant met paid quit read rode rang
        rose said saw seen sold sent shook shone shot shut sang sat slept spoke spent stood stole
        stuck struck swore swam took taken taught tore told thought threw thrown understood woke
        wore won wrote written is am are was were be been being has have had do does"""
    )
)
# Common verbs in their base form; suffixes (-s, -ed, -ing) are derived.
VERBS = frozenset(
    str.split(
        """accept add agree beat reject allow answer appear apply arrive ask attend avoid bake
        become begin believe belong blame borrow break bring buy call cancel care carry catch
        change charge
        check choose clean clear close come complain confirm consider continue cook cost count
        cover crash create cry dance decide delay delete deliver depend describe destroy die
        disappear do drink drive drop eat email end enjoy enter expect explain fail fall feel
        fill find finish fit fix fly follow forget freeze get give go grow guess hang happen hate
        hear help hide hit hold hope hurt ignore improve include join jump keep kill knock know
        last laugh lead learn leave lend let lie like listen live load look lose love make manage
        mean meet mind miss move need notice offer open order own pack pay pick plan play prefer
        prepare pretend print promise pull push put reach read realise realize receive refuse
        remember remind remove repeat reply report restart return ring rise run rush save say
        schedule see seem sell send share shout show shut sing sit sleep smell sound speak spend
        spill stand start stay steal stop study suggest suppose take talk taste teach tell thank
        think throw touch try turn understand update use wait wake walk want wash waste watch
        wear win wish wonder work worry write yell"""
    )
)
# Words that are verbs but also the nouns complaints are about ("the build", "a code review").
NOUN_VERBS = frozenset(
    str.split(
        """build deploy release update meeting review call test report plan change fix email
        print launch check training booking parking wedding morning evening ceiling building
        weather rain snow traffic delay commute workout dinner lunch breakfast order show
        download upload install upgrade reboot restart backup standup sprint deadline"""
    )
)


def is_verb(word: str) -> bool:
    """Return whether ``word`` (lower case) looks like a form of a common verb."""
    if word in IRREGULAR or word in VERBS:
        return True
    for suffix, repair in (
        ("ing", ""),
        ("ing", "e"),
        ("ed", ""),
        ("ed", "e"),
        ("es", ""),
        ("s", ""),
    ):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stem = word[: -len(suffix)] + repair
            if stem in VERBS or (len(stem) > 2 and stem[-1] == stem[-2] and stem[:-1] in VERBS):
                return True
    return False
