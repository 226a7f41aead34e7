"""L1, L2 and elastic-net penalties as `Penalty(value, prox)` pairs."""

from ._penalties import Penalty as Penalty
from ._penalties import elastic_net as elastic_net
from ._penalties import is_weight as is_weight
from ._penalties import l1 as l1
from ._penalties import l2 as l2
from ._penalties import none as none
