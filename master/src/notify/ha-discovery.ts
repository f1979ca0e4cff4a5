/**
 * Home Assistant MQTT discovery configs for the cameras and nodes the master publishes state of
 * (ADR 0019). Home Assistant makes an entity from each retained config under
 * `<discoveryPrefix>/<component>/<site>/<object>/config` and removes it when that config is
 * emptied; the `<site>` level (from the topic prefix) keeps two sites on one broker apart and
 * lets the master find, and empty, configs it published before for cameras since removed.
 */
import { mqttOutTopics } from '@cctv/protocol';

export interface AnnouncedCamera {
  cameraId: string;
  nodeId: string;
  /** Shown in Home Assistant as the device's name. */
  name: string;
}

export interface DiscoverySite {
  topicPrefix: string;
  discoveryPrefix: string;
}

/** The site's key in discovery topics and unique ids: the topic prefix, in the characters allowed there. */
export function siteKey(topicPrefix: string): string {
  return topicPrefix.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** What the master subscribes to for the discovery configs it may have left on the broker. */
export function discoveryFilter(site: DiscoverySite): string {
  return `${site.discoveryPrefix}/+/${siteKey(site.topicPrefix)}/+/config`;
}

function availability(site: DiscoverySite) {
  // The master's connection to the broker, not the camera's: with the master gone, nobody
  // updates these states, and Home Assistant greys them out rather than show old values.
  return [
    {
      topic: mqttOutTopics(site.topicPrefix).status,
      payload_available: 'online',
      payload_not_available: 'offline',
    },
  ];
}

const origin = { name: 'cctv-master' };

/**
 * Every discovery config for these cameras and their nodes: topic to JSON payload. A camera is
 * one device (motion, face, recording state), linked to its node's device (connectivity).
 */
export function discoveryConfigs(
  site: DiscoverySite,
  cameras: readonly AnnouncedCamera[],
): Map<string, string> {
  const key = siteKey(site.topicPrefix);
  const t = mqttOutTopics(site.topicPrefix);
  const out = new Map<string, string>();
  const put = (component: string, object: string, config: Record<string, unknown>) =>
    out.set(
      `${site.discoveryPrefix}/${component}/${key}/${object}/config`,
      JSON.stringify({ unique_id: `${key}_${object}`, ...config, availability: availability(site), origin }),
    );
  const nodeDevice = (nodeId: string) => `${key}_node_${nodeId}`;

  for (const nodeId of new Set(cameras.map((c) => c.nodeId))) {
    put('binary_sensor', `node_${nodeId}_connectivity`, {
      name: 'Connectivity',
      state_topic: t.nodeState(nodeId),
      // `stale` (status online, heartbeats late) is not connected either.
      value_template: "{{ 'ON' if value == 'online' else 'OFF' }}",
      payload_on: 'ON',
      payload_off: 'OFF',
      device_class: 'connectivity',
      entity_category: 'diagnostic',
      device: {
        identifiers: [nodeDevice(nodeId)],
        name: `CCTV node ${nodeId}`,
        manufacturer: 'CCTV cluster',
        model: 'Edge node',
      },
    });
  }
  for (const c of cameras) {
    const device = {
      identifiers: [`${key}_camera_${c.cameraId}`],
      name: c.name,
      manufacturer: 'CCTV cluster',
      model: 'Camera',
      via_device: nodeDevice(c.nodeId),
    };
    put('binary_sensor', `${c.cameraId}_motion`, {
      name: 'Motion',
      state_topic: t.detection(c.cameraId, 'motion'),
      payload_on: 'ON',
      payload_off: 'OFF',
      device_class: 'motion',
      device,
    });
    put('binary_sensor', `${c.cameraId}_face`, {
      name: 'Face',
      state_topic: t.detection(c.cameraId, 'face'),
      payload_on: 'ON',
      payload_off: 'OFF',
      device_class: 'occupancy',
      device,
    });
    put('sensor', `${c.cameraId}_recording`, {
      name: 'Recording',
      state_topic: t.cameraState(c.cameraId),
      entity_category: 'diagnostic',
      icon: 'mdi:cctv',
      device,
    });
  }
  return out;
}
