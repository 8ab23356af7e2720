// A rotatable view of a mesh: three.js with orbit controls (drag to turn, wheel to zoom), drawn only
// when something changes so a gallery of shapes costs nothing while idle.
import * as THREE from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import { h } from '../dom.ts';

export interface MeshViewer { element: HTMLElement; dispose(): void }

export function meshViewer(positions: number[], faces: number[], label: string, size = 240): MeshViewer {
  const canvas = h('canvas', { width: size, height: size, className: 'mesh-viewer', 'data-testid': 'mesh-viewer', role: 'img', 'aria-label': `${label}: drag to rotate, scroll to zoom` });
  let renderer: THREE.WebGLRenderer;
  try {
    // preserveDrawingBuffer: the canvas can be read back (screenshots, tests) after a frame.
    renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
  } catch {
    return { element: h('p', { className: 'muted' }, 'This browser has no WebGL, so the shape cannot be shown in 3-D; the preview image and the OBJ/PLY files are below.'), dispose: () => {} };
  }
  renderer.setSize(size, size, false);
  renderer.setClearColor(0xf4f5f7);
  const scene = new THREE.Scene();
  const geometry = new THREE.BufferGeometry();
  geometry.setAttribute('position', new THREE.Float32BufferAttribute(positions, 3));
  geometry.setIndex(faces);
  geometry.computeVertexNormals();
  const material = new THREE.MeshStandardMaterial({ color: 0x5b8def, roughness: 0.6, metalness: 0.05, flatShading: true });
  scene.add(new THREE.Mesh(geometry, material));
  scene.add(new THREE.HemisphereLight(0xffffff, 0x444455, 1.6));
  const sun = new THREE.DirectionalLight(0xffffff, 1.8);
  sun.position.set(1.5, 2, 1);
  scene.add(sun);
  const camera = new THREE.PerspectiveCamera(35, 1, 0.01, 20);
  camera.position.set(1.2, 0.9, 1.5);
  const controls = new OrbitControls(camera, canvas);
  controls.enableDamping = false;
  const draw = () => renderer.render(scene, camera);
  controls.addEventListener('change', draw);
  draw();
  return {
    element: canvas,
    dispose() {
      controls.dispose();
      geometry.dispose();
      material.dispose();
      renderer.dispose();
    },
  };
}
