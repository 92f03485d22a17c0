"""A concept vocabulary for RegionCLIP from image captions (METHOD.md section 5).

RegionCLIP parses nouns from captions. Without a part-of-speech tagger (no
model downloads here), nouns are approximated by frequency: words of the
captions that are not in a list of function words, adjectives and verbs
common in captions, kept when they appear at least ``min_count`` times; a
plural is folded into its singular when both occur. The resulting list is
meant to be read and edited: it is plain JSON.
"""
import re
from collections import Counter
from typing import Iterable, List

NOT_NOUNS = set('''
a an the this that these those some many several few two three four five one of in on at to for
with without from by over under near next behind front top bottom side and or but while is are
was were be been being has have had do does did it its their there here his her its who which
what where when very into onto up down out off through along around across against between
other another each both all no not as just only also than then so such more most less least
photo picture image view close shot showing shows shown sitting standing lying holding looking
walking riding playing eating parked flying laying covered filled made using wearing going
large small big little tall short long young old new white black red green blue yellow brown
gray grey orange pink purple colorful dark light bright empty full open different various
'''.split())
WORD = re.compile(r"[a-z]+")


def extract_concepts(captions: Iterable[str], min_count: int = 5, max_concepts: int = 0) -> List[str]:
    """Frequent noun-like words of ``captions``, most frequent first.

    Args:
        captions: caption strings.
        min_count: keep words seen at least this often.
        max_concepts: keep at most this many (0: no limit).

    Raises:
        ValueError: no caption, or no word reaches ``min_count``.
    """
    counts: Counter = Counter()
    seen_any = False
    for caption in captions:
        seen_any = True
        counts.update(w for w in WORD.findall(caption.lower())
                      if len(w) > 2 and w not in NOT_NOUNS)
    if not seen_any:
        raise ValueError('no captions given')
    for word in list(counts):  # fold plurals into singulars present in the vocabulary
        if word.endswith('s') and word[:-1] in counts:
            counts[word[:-1]] += counts.pop(word)
    concepts = [w for w, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
                if c >= min_count]
    if not concepts:
        raise ValueError(f'no word occurs at least {min_count} times; lower min_count')
    return concepts[:max_concepts] if max_concepts else concepts
