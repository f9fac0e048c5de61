import { InitialSchema1763856000000 } from './1763856000000-initial-schema.js';
import { DatasetStatistics1795454650456 } from './1795454650456-dataset-statistics.js';
import { SweepsAndTrials1795460000000 } from './1795460000000-sweeps-and-trials.js';
import { GangScheduling1796300000000 } from './1796300000000-gang-scheduling.js';
import { GangReservation1796300001000 } from './1796300001000-gang-reservation.js';
import { GangClockIndex1796300002000 } from './1796300002000-gang-clock-index.js';

/** In order. Add new migrations at the end; never edit one that has shipped. */
export const MIGRATIONS = [InitialSchema1763856000000, DatasetStatistics1795454650456, SweepsAndTrials1795460000000, GangScheduling1796300000000, GangReservation1796300001000, GangClockIndex1796300002000];
