// dcmjs ships no type declarations: dcmjs.d.ts beside this file declares the part the service uses.
export { data, log } from 'dcmjs';
