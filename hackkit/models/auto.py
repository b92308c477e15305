"""Register every model class the kit saves with transformers' Auto classes, so plain transformers
loads a run's model/ folder outside the kit:

    import hackkit.models.auto  # the one line
    from transformers import pipeline
    classify = pipeline("text-classification", model="runs/<run>/model")

Text classifiers the embeddings, zero-shot and probe-started methods save are
hackkit.models.meanpool's class (model_type "hackkit-meanpool"); image classifiers are
hackkit.models.efficientnet's ("hackkit-efficientnet-lite"); text-regression models are
hackkit.models.regression's ("hackkit-meanpool-regression"); NER models are
hackkit.models.tagger's ("hackkit-shape-tagger": the encoder also sees each word's shape; pass
`shape_ids` from hackkit.tasks.ner.shape_ids for the accuracy it was trained for). Importing each
module registers it.
"""

from __future__ import annotations

import hackkit.models.efficientnet  # noqa: F401  AutoConfig, AutoModelForImageClassification
import hackkit.models.lmscorer  # noqa: F401  AutoConfig, AutoModelForSequenceClassification
import hackkit.models.meanpool  # noqa: F401  AutoConfig, AutoModelForSequenceClassification
import hackkit.models.regression  # noqa: F401  AutoConfig, AutoModelForSequenceClassification
import hackkit.models.tagger  # noqa: F401  AutoConfig, AutoModelForTokenClassification
