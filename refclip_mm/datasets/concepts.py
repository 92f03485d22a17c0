"""A concept vocabulary for RegionCLIP from image captions (docs/method.md section 5.3).

RegionCLIP parses nouns from captions. Without a part-of-speech tagger (no
model downloads here), nouns are approximated by frequency: words of the
captions that are not in a list of function words, adjectives and verbs
common in captions, kept when they appear at least ``min_count`` times; a
plural is folded into its singular when both occur. The resulting list is
meant to be read and edited: it is plain text, one concept per line.
"""
import re
from collections import Counter
from dataclasses import dataclass
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
# fewer concepts than this make RegionCLIP's pseudo-labels near-trivial (one concept: loss 0)
MIN_CONCEPTS = 5


@dataclass
class ConceptVocabulary:
    """Concepts kept from captions, with what they were chosen from.

    Attributes:
        concepts: kept words, most frequent first.
        counts: every candidate word (plurals folded) -> occurrences.
        num_captions: captions read.
        min_count: the threshold used.
    """
    concepts: List[str]
    counts: Counter
    num_captions: int
    min_count: int

    def summary(self) -> str:
        return (f'kept {len(self.concepts)} concepts (seen at least {self.min_count} times) of '
                f'{len(self.counts)} candidate words from {self.num_captions} captions')


def count_candidates(captions: Iterable[str]) -> 'tuple[Counter, int]':
    """Noun-like candidate words of ``captions`` -> ``(counts, number of captions)``.

    A plural is folded into its singular when both occur.
    """
    counts: Counter = Counter()
    num = 0
    for caption in captions:
        num += 1
        counts.update(w for w in WORD.findall(caption.lower())
                      if len(w) > 2 and w not in NOT_NOUNS)
    for word in list(counts):
        if word.endswith('s') and word[:-1] in counts:
            counts[word[:-1]] += counts.pop(word)
    return counts, num


def _advice(counts: Counter, min_count: int, min_concepts: int) -> str:
    """What to change when fewer than ``min_concepts`` words reach ``min_count``."""
    frequencies = sorted(counts.values(), reverse=True)
    if len(frequencies) >= min_concepts:
        lower = frequencies[min_concepts - 1]
        return (f'lower --min-count to {lower} (keeps '
                f'{sum(c >= lower for c in frequencies)} concepts) or use more captions')
    return (f'the captions hold only {len(frequencies)} candidate words in all: use more '
            'captions (e.g. the whole captions_train2017.json)')


def build_vocabulary(captions: Iterable[str], min_count: int = 5, max_concepts: int = 0,
                     min_concepts: int = MIN_CONCEPTS) -> ConceptVocabulary:
    """Frequent noun-like words of ``captions``, most frequent first.

    Args:
        captions: caption strings.
        min_count: keep words seen at least this often.
        max_concepts: keep at most this many (0: no limit).
        min_concepts: refuse a vocabulary smaller than this.

    Raises:
        ValueError: no caption, or fewer than ``min_concepts`` words reach
            ``min_count`` (the message says how many did and what to change).
    """
    if max_concepts and max_concepts < min_concepts:
        raise ValueError(f'max_concepts={max_concepts} is below min_concepts={min_concepts}')
    counts, num = count_candidates(captions)
    if not num:
        raise ValueError('no captions given')
    concepts = [w for w, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
                if c >= min_count]
    if max_concepts:
        concepts = concepts[:max_concepts]
    vocab = ConceptVocabulary(concepts, counts, num, min_count)
    if len(concepts) < max(min_concepts, 1):
        raise ValueError(f'only {len(concepts)} of {len(counts)} candidate words from {num} '
                         f'captions occur at least {min_count} times; a usable vocabulary has '
                         f'at least {min_concepts} concepts: '
                         f'{_advice(counts, min_count, min_concepts)}')
    return vocab


def extract_concepts(captions: Iterable[str], min_count: int = 5, max_concepts: int = 0,
                     min_concepts: int = 1) -> List[str]:
    """The concept list of :func:`build_vocabulary` (by default refusing only an empty one)."""
    return build_vocabulary(captions, min_count, max_concepts, min_concepts).concepts
