"""The EventBridge event-pattern language, as EventBridge, Pipes, Lambda and SNS apply it.

Pure and fast: a pattern is validated and compiled once (:func:`compile_pattern`), then
matching an event is a few dict lookups. Contexts pick the service's rules:

* ``eventbridge`` - every operator (prefix/suffix with ``equals-ignore-case``, wildcard, all
  anything-but forms, numeric, cidr, exists, ``$or``); patterns <= 4096 characters.
* ``pipes`` / ``esm`` - the Pipes operator table: no ``wildcard`` and no anything-but with
  prefix/suffix/equals-ignore-case/wildcard. ``cidr`` is accepted (it is not on the list of
  unsupported operators, and Lambda documents the EventBridge syntax); at most 5 filters.
  A pattern that reaches into ``body``/``data``/``dynamodb`` drops a record whose content
  there is plain text, and a plain-value pattern drops a JSON one, as AWS documents.
* ``sns-attributes`` / ``sns-body`` - filter policies: numbers compare by value (``301.5``
  matches ``3.015e2``), no wildcard, <= 5 keys, <= 150 combinations, numbers within +-1e9 with
  <= 5 decimals; attribute policies must be flat and never match a message without attributes.

Decisions where AWS leaves room (see ``_match`` and ``_numbers`` for details):

* exact numbers compare by JSON text in EventBridge/Pipes/Lambda (``300`` != ``300.0``),
  rebuilt from Python numbers through ``Decimal``; ``numeric`` and anything-but numbers compare
  by value;
* inside an array of objects, the fields of one pattern object must be satisfied by the same
  element (event-ruler's ``rulesForJSONEvent``);
* ``exists: false`` holds when no value sits at the path (missing, an object, ``[]``);
* ``$or`` expands into combinations before matching; a path tested both outside and inside a
  ``$or`` branch keeps the test written last, as event-ruler does.
"""

from sluiceway.patterns._api import FilterSet, Pattern, compile_filters, compile_pattern
from sluiceway.patterns._model import MISSING, Context, Explanation, Miss, PatternError
from sluiceway.patterns._views import esm_view_of_sqs_record, sns_attributes_view

__all__ = [
    # compiling and matching
    "Context",
    "FilterSet",
    "Pattern",
    "compile_filters",
    "compile_pattern",
    # errors and explanations
    "MISSING",
    "Explanation",
    "Miss",
    "PatternError",
    # the event shapes AWS filters
    "esm_view_of_sqs_record",
    "sns_attributes_view",
]
