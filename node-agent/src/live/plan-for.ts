/** Which live plan a camera of the running set gets: by its definition, simulated or a source. */
import type { CameraDefinition } from '../cameras/camera-set.ts';
import type { AgentConfig, CameraConfig } from '../config.ts';
import { cameraLivePlan, type LivePlan, type LivePlanSettings, simulatedLivePlan } from './live-plan.ts';

export interface LivePlanSource extends LivePlanSettings {
  /** The running camera's definition, undefined for a camera this node does not run. */
  definition: (cameraId: string) => CameraDefinition | undefined;
  /** The overlay font of the simulated camera. */
  font: string | null;
}

/** The plan-for function live view asks: null for a camera not running here. */
export function livePlanner(source: LivePlanSource): (cameraId: string) => LivePlan | null {
  return (cameraId) => {
    const spec = source.definition(cameraId)?.spec as
      | CameraConfig
      | { simulated: AgentConfig['simulatedCamera'] }
      | undefined;
    if (!spec) return null;
    if ('simulated' in spec) return simulatedLivePlan(spec.simulated, source.font);
    return cameraLivePlan(spec, source);
  };
}
